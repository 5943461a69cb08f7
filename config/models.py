"""The platform app holds no tables; this module makes Django send it migrate signals."""
