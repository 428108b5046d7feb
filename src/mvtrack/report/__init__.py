"""Figures, overlay movies and the HTML report of a study."""
