"""nn: layers, losses, optimisers and data, built only on tinygrad_edu's public names."""
