"""The seeds' two-layer net (autograd/two_layer_net_autograd.py and tf_two_layer_net.py)."""
