"""Stage 1 -> standardise -> stage 2 -> map back -> stage 2 again (1+2+2), then temporal refinement and QC."""
