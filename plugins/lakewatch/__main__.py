from lakewatch.cli import run

if __name__ == "__main__":  # Airflow's plugin loader imports this module too
    run()
