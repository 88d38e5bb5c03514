//! Registers metrics in the app's own registry and remembers their names.

use prometheus::core::Collector;
use prometheus::{
    CounterVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};

/// Fills one registry; every metric is registered once, under a unique name.
pub(super) struct Builder {
    /// The registry being filled.
    pub(super) registry: Registry,
    /// Every metric name registered, in order.
    pub(super) names: Vec<String>,
}

impl Builder {
    pub(super) fn add<C: Collector + Clone + 'static>(&mut self, c: C) -> C {
        self.names
            .extend(c.desc().iter().map(|d| d.fq_name.clone()));
        self.registry
            .register(Box::new(c.clone()))
            .expect("metric names are unique");
        c
    }

    pub(super) fn counters(&mut self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        self.add(IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"))
    }

    pub(super) fn float_counters(&mut self, name: &str, help: &str, labels: &[&str]) -> CounterVec {
        self.add(CounterVec::new(Opts::new(name, help), labels).expect("valid metric"))
    }

    pub(super) fn gauges(&mut self, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
        self.add(IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric"))
    }

    pub(super) fn histograms(
        &mut self,
        name: &str,
        help: &str,
        buckets: &[f64],
        labels: &[&str],
    ) -> HistogramVec {
        let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
        self.add(HistogramVec::new(opts, labels).expect("valid metric"))
    }
}
