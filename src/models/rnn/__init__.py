"""An Elman RNN on sequences of different lengths: the seeds' own case for dynamic graphs."""
