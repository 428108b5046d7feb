"""The point-regression networks (PyTorch + MONAI) and the numpy pre-processing they share with ONNX inference."""
