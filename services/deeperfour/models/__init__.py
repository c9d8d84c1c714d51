"""The networks of the three stages (DeOldify U-Nets, Lai et al. TransformNet, CartoonGAN and their lite presets), their
frame adapters (colorizer.py, stabilizer.py, cartoonizer.py), the presets (registry.py) and weights on disk (weights.py,
`deeperfour weights`)."""
