"""The worker: claims runs and executes their tasks on a warm pool of executor processes."""
