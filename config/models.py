"""The platform app has no tables; this module makes Django send it migrate signals."""
