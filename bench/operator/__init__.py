"""`make bench-operator`: ContactCenters reconciled from create to Ready against kmock."""
