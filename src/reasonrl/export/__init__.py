"""Export a trained model to run elsewhere: GGUF (llama.cpp, Ollama, LM Studio), an Ollama Modelfile, and a
self-contained Hugging Face folder with a model card. `reasonrl export --help`; docs/export.md."""
