"""The user-facing estimators: ``LogisticRegression`` and ``LogisticRegressionCV``
(scikit-learn shaped), the model file (JSON + ``.npy``, never a pickle), and scoring
data of any size with a fitted model.
"""
