"""fastshade test suite (a package so references import as ``tests.ref_*``)."""
