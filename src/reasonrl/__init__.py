"""reasonrl: teach language models to reason with RL from verified rewards."""
__version__ = "0.1.0"
