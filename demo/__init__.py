"""The Gradio drawing demo: two digits, reconstructions, pixel- vs latent-space interpolation.

``python -m demo`` starts it; ``demo.app.build_demo`` builds the Blocks; ``demo.draw`` and
``demo.predictor`` hold the Gradio-free parts (canvas -> 28x28, models and interpolation).
"""
