"""The local backend's runtime: the AWS emulator and the processes lakewatch starts and stops."""
