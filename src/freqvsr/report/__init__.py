"""Pictures: what a person looks at to judge an upscale.

* :mod:`~freqvsr.report.compare` -- `freqvsr compare`: reads LQ/SR/GT and writes the report;
  :mod:`~freqvsr.report.spectra` (block-DCT spectra, curves, crop choice), :mod:`~freqvsr.report.panels`
  (panels, PNG montage), :mod:`~freqvsr.report.html` (the page), :mod:`~freqvsr.report.plots` (charts).
* :mod:`~freqvsr.report.demo` -- `freqvsr demo`, with :mod:`~freqvsr.report.crop_choice`.

Scoring lives in :mod:`freqvsr.metrics` (per frame) and :mod:`freqvsr.bench.evaluate` (files).
"""
