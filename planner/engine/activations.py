"""Bytes per element of the tensors a forward pass moves between kernels: one home for serving and training.

Every serving engine and mixed-precision training keep activations in bf16 (2 bytes) on the
wire and in HBM (FP8 training casts GEMM inputs to FP8 but keeps the activations it passes
between layers in bf16, Transformer Engine). Logits are kept in fp32 (4 bytes): serving samples
from them, and training's vocabulary-parallel cross-entropy computes its loss from them.
"""

from __future__ import annotations

ACTIVATION_BYTES = 2.0
LOGIT_BYTES = 4.0
