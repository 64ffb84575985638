"""The research record beside the package: the study's runs and profiles (runs), the verdict
rule (verdict), the committed answers read back (findings), tables (report), figures (plots),
and shipping the package's model (shipping). Imported by the notebook and the benchmarks, never
by `import colorizer`: nothing here is needed to train, evaluate or colorize."""
