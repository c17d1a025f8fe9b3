"""ProMark end-to-end experiment: train a small diffusion model on concept-marked images, attribute its samples."""
