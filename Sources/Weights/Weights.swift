// Weights module
