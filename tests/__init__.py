"""fastshade test suite (a package, so tests import shared helpers as ``tests.conftest``, ``tests.test_shader``)."""
