-- Dagster's own storage lives in a second database on the same server.
CREATE DATABASE dagster OWNER audiomuse;
