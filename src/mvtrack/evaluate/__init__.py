"""Agreement of tracked points and clinical metrics with a reference (paper Tables 3-5, Figs. 4-8)."""
