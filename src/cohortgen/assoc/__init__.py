"""Association tests: null models and score tests for binary diseases."""
