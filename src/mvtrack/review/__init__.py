"""``mvtrack review``: check and correct the tracked points of an OUT_DIR in the browser.

:mod:`mvtrack.review.store` reads and writes the files (nothing outside OUT_DIR);
:mod:`mvtrack.review.app` is the local web app (Starlette; its pages are in ``static/``).
"""
