"""ensemble-kit: encode reference clips, score them with libvmaf, train an MLP
ensemble with leave-one-source-out validation, gate it and export ONNX."""

__version__ = "0.1.0"
