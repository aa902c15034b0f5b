"""Production quality: ground truth from sellers and reviewers, drift of outputs and photos, its gauge and page."""
