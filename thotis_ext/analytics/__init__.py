"""Product analytics (seed task 21): events recorded with each change, exported to Mixpanel by a job."""
