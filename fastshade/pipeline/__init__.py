"""The shading pipeline: graph, fields, gates, components, thickening, shadows, cross mode."""
