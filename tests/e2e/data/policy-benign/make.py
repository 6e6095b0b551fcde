"""Regenerate the real-library pickles used by tests/e2e/test_policy.py
(test_real_library_pickles_are_safe): false-positive regressions for the
built-in allowlists.  Needs the Debian packages python3-sklearn, -pandas,
-torch, -joblib, -scipy (made with scikit-learn 1.2.1, pandas 1.5.3,
torch 1.13, NumPy 1.24.2, joblib 1.2.0, SciPy 1.10.1).
Run: /usr/bin/python3 tests/e2e/data/policy-benign/make.py"""
import os
import pickle
import random
import warnings

import numpy as np

warnings.filterwarnings("ignore")
random.seed(0)
np.random.seed(0)
HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    import joblib
    import pandas as pd
    import torch
    from scipy.stats import uniform
    from sklearn.cluster import KMeans
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import make_classification
    from sklearn.decomposition import PCA
    from sklearn.ensemble import (GradientBoostingClassifier, HistGradientBoostingClassifier,
                                  IsolationForest)
    from sklearn.linear_model import SGDClassifier, Ridge
    from sklearn.model_selection import RandomizedSearchCV
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
    from sklearn.svm import SVC

    torch.manual_seed(0)
    X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    df = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": ["x", "y", "x", "z"],
                       "c": pd.to_datetime(["2020-01-01"] * 4),
                       "d": pd.Categorical(["u", "v", "u", "v"])})
    objs = {
        "sk_functiontransformer": make_pipeline(FunctionTransformer(np.log1p), Ridge()).fit(abs(X), y),
        "sk_pca": PCA(2).fit(X),
        "sk_svc": SVC().fit(X, y),
        "sk_knn_kdtree": KNeighborsClassifier(algorithm="kd_tree").fit(X, y),
        "sk_gb": GradientBoostingClassifier(n_estimators=2, max_depth=2).fit(X, y),
        "sk_hgb": HistGradientBoostingClassifier(max_iter=2).fit(X, y),
        "sk_isolation": IsolationForest(n_estimators=2, random_state=0).fit(X),
        "sk_sgd": SGDClassifier(random_state=0).fit(X, y),
        "sk_kmeans": KMeans(2, n_init=1, random_state=0).fit(X),
        "sk_columntransformer": ColumnTransformer(
            [("num", StandardScaler(), ["a"]), ("cat", OneHotEncoder(), ["b"])]).fit(df, [0, 1, 0, 1]),
        "sk_randomsearch": RandomizedSearchCV(SVC(), {"C": uniform(1, 2)}, n_iter=1, cv=2,
                                              random_state=0).fit(X, y),
        "pd_dataframe": df,
        "pd_timestamp_utc": pd.Timestamp("2020-01-01", tz="UTC"),
        "pd_multiindex": pd.MultiIndex.from_tuples([(1, "a"), (2, "b")]),
        "pd_period": pd.period_range("2020-01", periods=3, freq="M"),
        "np_random": [np.random.RandomState(0), np.random.default_rng(0)],
        "np_ufuncs": [np.log1p, np.sqrt, np.float32(1.5), np.arange(3)],
    }
    for name, o in objs.items():
        with open(os.path.join(HERE, name + "_p4.pkl"), "wb") as f:
            pickle.dump(o, f, protocol=4)
    joblib.dump(objs["sk_columntransformer"], os.path.join(HERE, "sk_columntransformer.joblib"))
    m = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 1), torch.nn.BatchNorm2d(1), torch.nn.ReLU(),
                            torch.nn.LSTM(1, 1), torch.nn.TransformerEncoderLayer(2, 1, 2),
                            torch.nn.Embedding(2, 1), torch.nn.LayerNorm(1), torch.nn.GELU())
    torch.save(m, os.path.join(HERE, "torch_whole_model.pt"))
    opt = torch.optim.AdamW(m.parameters())
    sch = torch.optim.lr_scheduler.StepLR(opt, 2)
    torch.save({"opt": opt.state_dict(), "sch": sch.state_dict(), "epoch": 3,
                "np": np.float32(1.5), "arr": np.zeros(3)}, os.path.join(HERE, "torch_checkpoint.pt"))
    torch.save({"i64": torch.zeros(2, dtype=torch.int64), "f16": torch.zeros(2, dtype=torch.float16),
                "q": torch.quantize_per_tensor(torch.zeros(2), 0.1, 0, torch.quint8),
                "sparse": torch.zeros(2, 2).to_sparse(), "dev": torch.device("cpu"),
                "dtype": torch.float32, "size": torch.Size([2])},
               os.path.join(HERE, "torch_misc.pt"))


if __name__ == "__main__":
    main()
