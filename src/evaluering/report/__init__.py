"""Report building blocks: Danish formatting, disclosure control, tables and figures."""
