"""Numba kernels: arithmetic on plain arrays, no I/O, no pandas."""
