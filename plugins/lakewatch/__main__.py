from lakewatch.cli import main

if __name__ == "__main__":  # Airflow's plugin loader imports this module too
    raise SystemExit(main())
