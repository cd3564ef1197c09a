"""Fieldsales infrastructure (AWS CDK v2). Never imports chalicelib: the app is packaged
by ``chalice.cdk.Chalice`` from the repository root, as a black box."""
