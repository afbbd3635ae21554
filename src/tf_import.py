"""Import TensorFlow quietly: its C++ start-up chatter (oneDNN notes, 'could not find cuda drivers'
on a machine without a GPU) is not for graphduel's users.  This TensorFlow build writes it before its
log settings apply, so the process's stderr is pointed at /dev/null for the import alone; Python
errors are still raised as usual.  Set TF_CPP_MIN_LOG_LEVEL yourself to see everything."""
import os

if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
    import tensorflow as tf
else:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf  # noqa: F401
            tf.config.list_physical_devices("GPU")  # the CUDA probe, which logs too
    finally:
        os.dup2(saved, 2)
        os.close(saved)

__all__ = ["tf"]
