"""What users run besides the API: the ``adc`` command line, trace tables,
graphs of the trace and the expression-swell report."""
