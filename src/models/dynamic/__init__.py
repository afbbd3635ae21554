"""The seeds' DynamicNet (nn/dynamic_net.py): one middle layer reused a different number of times each step."""
