"""The model: what a loss is, before any calculus.

Named quantities (``symbols``), activation functions with their textbook derivatives and
numpy forms (``functions``), losses (``losses``), the loss as a graph of named quantities
and its builders (``graph``), the safe expression parser (``parse``) and the values a user
gives for the graph's leaves (``values``). Nothing here knows of derivatives or documents.
"""
