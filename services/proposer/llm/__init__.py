"""The LLM proposer: a language model behind an HTTP endpoint, asked for one experiment at a time."""
