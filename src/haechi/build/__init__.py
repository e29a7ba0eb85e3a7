"""Tools for building models: depth up-scaling, training memory, fine-tuning, tokenizer efficiency."""
