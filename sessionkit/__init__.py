"""sessionkit: analyse Agentuity agent sessions in pandas and Jupyter."""
