"""Engine: series → own estimates → pooled priors → fits → backtest scores → run results."""
