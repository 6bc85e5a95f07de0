"""Reading data: Parquet files planned into chunks from their footers (``parquet``), one
chunk decoded into one float64 array (``decode``), value checks that name the file and
column at fault (``checks``), cluster labels as codes (``groups``), generated datasets.
"""
