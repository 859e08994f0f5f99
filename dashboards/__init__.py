"""The Streamlit results dashboard (``make dashboard``): reads MLflow, never writes."""
