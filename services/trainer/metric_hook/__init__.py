"""The evaluation hook a training run loads before train.py: its folder goes first on the run's PYTHONPATH."""
