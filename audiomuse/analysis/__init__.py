"""Audio analysis: decoding, the MusiCNN model, signal features and derived moods, per track and album."""
