"""The Gradio drawing demo: two images, reconstructions, pixel- vs latent-space interpolation.

``python -m demo`` starts it; ``demo.app.build_demo`` builds the Blocks; ``demo.draw``,
``demo.predictor``, ``demo.units`` and ``demo.views`` hold the Gradio-free parts (canvas or upload
-> model input, models and interpolation on each checkpoint's own data, what one latent unit
codes, what the page shows).
"""
