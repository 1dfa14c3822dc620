-- How many rows of a layer match the filter (numberMatched).
SELECT count(*) FROM {table} t WHERE {where}
