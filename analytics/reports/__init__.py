"""One builder per report section; each `build()` returns a `Section`."""
