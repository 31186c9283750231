"""Pure ML: fine-tuning, the batched inference engine, label maps, model cards."""
